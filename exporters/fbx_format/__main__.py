"""``python -m exporters.fbx_format FILE.fbx [--items N]``: print a readable dump of a binary FBX file."""

import sys

from exporters.fbx_format.dump import main

sys.exit(main())
