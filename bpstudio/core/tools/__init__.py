"""Instruments over the engine: gradient check, NumPy vs PyTorch comparison, chain-rule explanations, decision
surfaces and evaluation, vanishing-gradient sweeps, the loss landscape and the Mazur walkthrough."""
