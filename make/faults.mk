# The fault-injection suite: the real services as processes against a
# PostgreSQL cluster and a RabbitMQ node of the suite's own (free ports,
# temporary directory), one table line per scenario (docs/faults.md). Needs the
# PostgreSQL server binaries and rabbitmq-server installed; run as root (the
# servers run as the postgres and rabbitmq users) or as a user that may run them.
#   make test-faults                 every scenario
#   make test-faults FAULTS=2,5      only these (numbers or ids)
#   FAULTS_SEED=123 make test-faults repeats scenario 10's generated requests

.PHONY: test-faults

test-faults: $(NPM_STAMP) ## fault-injection suite: kills, restarts, blackholes, duplicates, poison, races, bad input; prints the table
	FAULTS="$(FAULTS)" $(TSX) test/faults/run.ts
