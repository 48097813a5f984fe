import os

# Qt must not look for a display in tests (without this it aborts with a misleading xcb message)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Property tests draw the same examples on every run (derandomized), so a fresh machine's run is the run that
# was checked here; HYPOTHESIS_PROFILE=explore draws new ones each time, for hunting bugs.
try:
    from hypothesis import settings
except ImportError:  # (hypothesis is in the test extra; without it the property tests are not collected)
    pass
else:
    settings.register_profile("repeatable", derandomize=True, print_blob=True)
    settings.register_profile("explore", derandomize=False, print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
