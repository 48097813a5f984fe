import os

# Qt must not look for a display in tests (without this it aborts with a misleading xcb message)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
