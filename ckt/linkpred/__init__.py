"""Link prediction on pin-level circuit graphs: which net a pin belongs on, and completing netlists
whose pins dangle."""
