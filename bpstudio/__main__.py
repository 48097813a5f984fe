"""``python -m bpstudio`` behaves exactly like the ``bpstudio`` command."""

from bpstudio.cli import main

raise SystemExit(main())
