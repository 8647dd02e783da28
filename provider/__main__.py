"""What Pulumi runs for the source-based plugin: the component provider of `infra.provider`.

The language host runs `python <this directory> <engine address> ...`; the components are the Python
packages of the checkout this directory belongs to, so its root goes on the import path.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.provider import main  # after the checkout is on the path

if __name__ == "__main__":
    main()
