import { describe, expect, it } from "vitest";
import { InFlightList, type InFlightNode } from "../../src/transport/in-flight.js";

class Request implements InFlightNode<Request> {
  previousInFlight: Request | undefined = undefined;
  nextInFlight: Request | undefined = undefined;
  constructor(readonly name: string) {}
}

const names = (list: InFlightList<Request>) => list.toArray().map((request) => request.name);

describe("InFlightList (the transport's requests in flight)", () => {
  it("keeps send order, removes from the head, the middle and the tail, and counts", () => {
    const list = new InFlightList<Request>();
    const [a, b, c, d] = ["a", "b", "c", "d"].map((name) => new Request(name)) as [
      Request,
      Request,
      Request,
      Request,
    ];
    for (const request of [a, b, c, d]) list.add(request);
    expect([names(list), list.size, list.first()?.name]).toEqual([["a", "b", "c", "d"], 4, "a"]);
    expect(list.remove(b)).toBe(true);
    expect(list.remove(a)).toBe(true);
    expect(list.remove(d)).toBe(true);
    expect([names(list), list.size, list.first()?.name]).toEqual([["c"], 1, "c"]);
    list.add(a);
    expect(names(list)).toEqual(["c", "a"]);
    expect(list.remove(c) && list.remove(a)).toBe(true);
    expect([names(list), list.size, list.first()]).toEqual([[], 0, undefined]);
  });

  it("ignores a second add and a remove of what is not in it", () => {
    const list = new InFlightList<Request>();
    const a = new Request("a");
    const b = new Request("b");
    list.add(a);
    list.add(a);
    list.add(b);
    list.add(b);
    expect([names(list), list.size]).toEqual([["a", "b"], 2]);
    expect(list.remove(b)).toBe(true);
    expect(list.remove(b)).toBe(false);
    expect([names(list), list.size]).toEqual([["a"], 1]);
  });

  it("unlinks a removed request both ways: nothing that left points at a request still in flight", () => {
    const list = new InFlightList<Request>();
    const requests = Array.from({ length: 5 }, (_, i) => new Request(String(i)));
    for (const request of requests) list.add(request);
    for (const request of requests.slice(0, 4)) list.remove(request);
    for (const request of requests.slice(0, 4)) {
      expect([request.previousInFlight, request.nextInFlight]).toEqual([undefined, undefined]);
    }
    expect(names(list)).toEqual(["4"]);
  });

  it("toArray is a copy: removing while going through it visits every request once", () => {
    const list = new InFlightList<Request>();
    const requests = Array.from({ length: 6 }, (_, i) => new Request(String(i)));
    for (const request of requests) list.add(request);
    const visited: string[] = [];
    for (const request of list.toArray()) {
      visited.push(request.name);
      list.remove(request);
      if (request.name === "1") list.remove(requests[4] as Request); // a later one ends meanwhile
    }
    expect(visited).toEqual(["0", "1", "2", "3", "4", "5"]);
    expect(list.size).toBe(0);
  });
});
