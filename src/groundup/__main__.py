import sys

from groundup.cli import main

sys.exit(main())
