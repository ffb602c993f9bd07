import sys

from rnngmm.cli import console_main

sys.exit(console_main())
