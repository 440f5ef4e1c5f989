from livedet.cli import entry_point

entry_point()
