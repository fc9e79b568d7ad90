"""`python -m data_layer`: see data_layer.cli."""

import sys

from data_layer.cli import main

sys.exit(main())
