/** The categories of the methodology's "Test Categories" section, plus the default blend. */
export const CATEGORIES = ["normal", "security", "policy", "llm"] as const;
export type Category = (typeof CATEGORIES)[number];
export const CATEGORY_CHOICES = [...CATEGORIES, "mixed"] as const;
export type CategoryChoice = (typeof CATEGORY_CHOICES)[number];

/** What a well-behaved policy gateway must do with a case. */
export type ExpectedOutcome = "allow" | "block";

/** One request of a built-in corpus: the body is `{"prompt": prompt, "mode": mode}`. */
export interface TestCase {
  /** Stable identifier, e.g. `security/union-select-users`. */
  id: string;
  category: Category;
  prompt: string;
  /** `chat` for policy-only requests, `llm` for requests the gateway forwards to a provider. */
  mode: "chat" | "llm";
  expect: ExpectedOutcome;
  /** Why the case exists (which policy it probes, or why it is a near miss). */
  note: string;
}
