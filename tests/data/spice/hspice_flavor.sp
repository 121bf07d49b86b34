* hspice flavour: $ comments, params:, quoted expressions, .lib section
.lib 'lib/corners.lib' tt
.param lmin='180n' $ minimum length
X1 a b c inv params: wn='2*lmin'
.subckt inv in out vdd params: wn=1u wp='2*wn'
mn out in 0 0 nch w=wn l=lmin $ nmos
mp out in vdd vdd pch w=wp l=lmin
.ends
Q1 c b e npn_t
Q2 c b e s npn_t
.tran 1n 100n
.end
