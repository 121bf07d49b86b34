* a SPICE model card
.model nch_spice nmos level=1 vto=0.5
