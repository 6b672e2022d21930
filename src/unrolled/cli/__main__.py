import sys

from unrolled.cli import main

sys.exit(main())
