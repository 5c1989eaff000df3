"""Weight storage formats: what each stored component of a tensor costs in bits."""
