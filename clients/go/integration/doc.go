// Package integration holds the Go client's tests against real
// ngsi-receiver and ngsi-replier processes fed by the broker simulator.
// tests/clients/test_java_go_clients.py starts the services, replays the
// fixtures and passes the addresses through NGSI_BRIDGE_* variables; without
// them the tests skip.
package integration
