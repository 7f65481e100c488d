import sys

from bot.app.cli import main

sys.exit(main(sys.argv[1:]))
