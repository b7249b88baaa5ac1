"""``python -m genesis_exchange_bitfinex.sim``: same as the ``genesis-bitfinex-sim`` command."""

import sys

from genesis_exchange_bitfinex.sim.cli import main


sys.exit(main())
