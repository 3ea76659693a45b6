"""`python -m apaygate listen ...`: the `apaygate` console command without the scripts dir."""

import sys

from ._listen import main

sys.exit(main())
