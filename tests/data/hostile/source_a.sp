second link of the chain
.control
source source_b.sp
.endc
.end
