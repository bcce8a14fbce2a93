"""``python -m molecule_credential_helper ARGS``: the command itself."""

import os
import sys

from . import binary_path

if __name__ == "__main__":
    binary = binary_path()
    if binary is None:
        sys.exit("molecule-credential-helper not found (is the wheel installed?)")
    os.execv(binary, [binary] + sys.argv[1:])
