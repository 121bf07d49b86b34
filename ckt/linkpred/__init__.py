"""Link prediction on pin-level circuit graphs: which net a pin belongs to.

``samples`` makes the task data (a pin's connection removed; hard same-circuit negatives; the
GNN-ACLP protocol for comparison), ``seal`` and ``model`` the two models (SEAL with DRNL labels and a
DGCNN readout; a GIN node-embedding baseline) behind one interface, ``train`` trains them with
checkpoints and exact resume, ``evaluate`` scores them (accuracy, AUC, completion top-1/top-3/MRR),
``predictor`` serves a trained one to netlist completion.
"""
