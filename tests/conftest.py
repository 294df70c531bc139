import sys
from pathlib import Path

# Tests import their helpers module from this folder; the packages under test
# come from the installed distribution.
sys.path.insert(0, str(Path(__file__).parent))
