import { describe, expect, it } from "vitest";
import { classifyResponse, matchesExpectation } from "../../src/scenarios/classify.js";
import { classifyTransportError } from "../../src/transport/errors.js";

const body = (value: unknown) => Buffer.from(JSON.stringify(value));

describe("classifyResponse", () => {
  it.each([
    [200, body({ success: true }), "success", undefined],
    [201, null, "success", undefined],
    [403, null, "blocked", undefined],
    [200, body({ success: false, blocked: true }), "blocked", undefined],
    [200, Buffer.from('{"blocked" :  true}'), "blocked", undefined],
    [200, body({ blocked: false, text: "blocked: true is not json here" }), "success", undefined],
    [200, Buffer.from('{"reason":"blocked","blocked":\r\n\ttrue}'), "blocked", undefined],
    [200, Buffer.from('{"blocked":"true"}'), "success", undefined],
    [200, Buffer.from('{"blocked": tru'), "success", undefined],
    [200, Buffer.from('{"blocked"'), "success", undefined],
    [200, Buffer.from('{"blocked" true}'), "success", undefined],
    [200, Buffer.from('{"blocked":false,"inner":{"blocked" : true}}'), "blocked", undefined],
    [401, null, "error", "http_401"],
    [404, null, "error", "http_404"],
    [429, null, "error", "http_429"],
    [500, body({ blocked: true }), "error", "http_500"],
    [503, null, "error", "http_503"],
    [302, null, "error", "http_302"],
  ])("status %d -> %s", (status, responseBody, outcome, errorKind) => {
    expect(classifyResponse(status, responseBody)).toEqual(errorKind ? { outcome, errorKind } : { outcome });
  });

  it("judges outcomes against expectations separately from HTTP success", () => {
    expect(matchesExpectation("success", "allow")).toBe(true);
    expect(matchesExpectation("blocked", "block")).toBe(true);
    // A security probe answered 200 is HTTP success and a correctness failure.
    expect(matchesExpectation("success", "block")).toBe(false);
    expect(matchesExpectation("blocked", "allow")).toBe(false);
    expect(matchesExpectation("error", "block")).toBe(false);
  });
});

describe("classifyTransportError", () => {
  const withCode = (code: string, cause?: unknown) => Object.assign(new Error(code), { code, cause });
  it.each([
    ["ECONNREFUSED", "connect_refused"],
    ["UND_ERR_CONNECT_TIMEOUT", "timeout"],
    ["UND_ERR_HEADERS_TIMEOUT", "timeout"],
    ["UND_ERR_BODY_TIMEOUT", "timeout"],
    ["LOAD_TEST_TIMEOUT", "timeout"],
    ["ECONNRESET", "reset"],
    ["UND_ERR_SOCKET", "reset"],
    ["ENOTFOUND", "dns"],
    ["DEPTH_ZERO_SELF_SIGNED_CERT", "tls"],
    ["ERR_TLS_CERT_ALTNAME_INVALID", "tls"],
    ["ERR_SSL_WRONG_VERSION_NUMBER", "tls"],
    ["HPE_INVALID_CONSTANT", "protocol"],
    ["ERR_HTTP2_STREAM_ERROR", "protocol"],
    ["SOMETHING_ELSE", "other"],
  ])("%s -> %s", (code, kind) => {
    expect(classifyTransportError(withCode(code))).toBe(kind);
  });

  it("looks through undici's cause chain", () => {
    expect(classifyTransportError(new Error("fetch failed", { cause: withCode("ECONNREFUSED") }))).toBe(
      "connect_refused",
    );
  });
});
