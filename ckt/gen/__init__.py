"""Circuit topology generation: tokens, grammar, model, rules, export."""
