# TLS for trying Envoy's HTTPS listener locally (included by the root
# Makefile): a local CA and a certificate for localhost, made with openssl.

CERTS_DIR ?= .run/certs

.PHONY: certs

certs: ## make a local CA and a TLS certificate for localhost in .run/certs (kept while current), for Envoy's :8443
	scripts/make-certs.sh $(CERTS_DIR)
