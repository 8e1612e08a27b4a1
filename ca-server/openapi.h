/*
 * openapi.h - the OpenAPI 3.1 document of the REST API (docs/openapi.yaml),
 * as compact JSON, generated at build time by cmake/openapi-json.py.
 */
#ifndef NRFCA_OPENAPI_H
#define NRFCA_OPENAPI_H

extern const char nrfca_openapi_json[];
extern const unsigned long nrfca_openapi_json_len;

#endif
