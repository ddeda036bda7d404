// Package conformance holds no code: its tests hold the project's picture
// of Authlete against Authlete's own OpenAPI document
// (testdata/authlete-openapi.yaml). Every request that package authlete
// sends, and every answer that package authletetest and
// cmd/authlete-emulator give, for every operation the project uses,
// success and error answers alike, is validated with kin-openapi.
//
// It is a module of its own so that kin-openapi stays out of the
// library's dependencies.
package conformance
