"""Op-amp topology generation: tokens, grammar, model, and export of generated circuits to sizable SPICE."""
