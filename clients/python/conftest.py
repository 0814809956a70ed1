# Registers the fixtures (a real `tollgate serve`, a real redis-server) for `pytest` run here.
pytest_plugins = ["tollgate_fixtures"]
