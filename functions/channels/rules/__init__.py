"""Pure rules of the sales channels: payload mappers and signatures."""
