import sys

from qmcsim.cli import main

sys.exit(main())
