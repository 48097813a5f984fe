"""Tools that open from the main window: dialogs over core analyses (backend comparison, sweeps, …)."""
