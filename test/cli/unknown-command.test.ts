import { describe, expect, it } from "vitest";
import { unknownCommandMessage } from "../../src/cli/unknown-command.js";

const COMMANDS = ["run", "ladder", "serve", "demo"];

describe("a bare word that names no file is a mistyped command", () => {
  it.each([
    ["sevre", "serve"],
    ["lader", "ladder"],
    ["dmeo", "demo"],
    ["rn", "run"],
  ])("%s: did you mean '%s'?", (word, nearest) => {
    expect(unknownCommandMessage(word, COMMANDS, false)).toBe(
      `unknown command '${word}'; did you mean '${nearest}'? (a profile is a .yaml, .yml or .json file)`,
    );
  });

  it("with nothing close, every command is offered", () => {
    expect(unknownCommandMessage("fly", COMMANDS, false)).toBe(
      "unknown command 'fly'; did you mean one of 'run', 'ladder', 'serve', 'demo'? (a profile is a .yaml, .yml or .json file)",
    );
  });

  it.each(["profile.yaml", "./fly", "dir/profile", "my profile", "-x"])(
    "%s looks like a path (or is no word): left to the profile loader",
    (argument) => {
      expect(unknownCommandMessage(argument, COMMANDS, false)).toBeUndefined();
    },
  );

  it("an existing file named like a word is still a profile", () => {
    expect(unknownCommandMessage("profile", COMMANDS, true)).toBeUndefined();
  });
});
