"""``python -m demo``: start the local stack, play the order lifecycle, print what happened."""

from demo.run import main

main()
