import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CREDENTIAL_RULE,
  credentialFindings,
  findCredentials,
  isCredentialName,
  maskCredential,
  type Work,
} from "../../../src/agents/code-reviewer/credentials.ts";
import { addCredentialFindings } from "../../../src/agents/code-reviewer/executor.ts";
import type { CodeReviewResult } from "../../../src/agents/tools/code-findings.ts";
import type { InputBlock } from "../../../src/agents/tools/types.ts";
import { PIECES } from "../tools/hostile-text.ts";

/**
 * The hard-coded credential rule (Bandit B105 / Semgrep style): a string literal
 * assigned to a name that says password, secret, token or key, in every language the
 * reviewer reads; its false-positive guards; the value never shown in full; and linear
 * work on hostile text.
 */

const AWS_EXAMPLE = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

function file(language: string, text: string): InputBlock {
  return { source: "description", name: `block-1.${language}`, language, text };
}

const names = (language: string, text: string) =>
  findCredentials(file(language, text)).map((h) => h.name);

describe("the hard-coded credential rule", () => {
  it("flags the AWS documentation's example secret key that secretlint skips", () => {
    const hits = findCredentials(
      file("typescript", `const AWS_SECRET_ACCESS_KEY = "${AWS_EXAMPLE}";`),
    );
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({
      name: "AWS_SECRET_ACCESS_KEY",
      line: 1,
      column: 31,
      value: AWS_EXAMPLE,
    });
  });

  it.each([
    ["javascript", `let password = "hunter22";`, "password"],
    ["typescript", `const apiKey: string = "sk_live_51HxQ";`, "apiKey"],
    ["typescript", `const config = { clientSecret: 'p4ssw0rd!x' };`, "clientSecret"],
    ["json", `{ "api_key": "9f8e7d6c5b4a" }`, "api_key"],
    ["python", `DB_PASSWORD = "s3cr3t-pw"`, "DB_PASSWORD"],
    ["python", `password: str = "s3cr3t-pw"`, "password"],
    ["python", `def connect(host, passwd="s3cr3t-pw"):`, "passwd"],
    ["python", `settings["auth_token"] = "abc123def456"`, "auth_token"],
    ["python", `creds = {'token': 'ghp_notreallyatoken1'}`, "token"],
    ["go", `apiKey := "AIzaSyD-example-1234"`, "apiKey"],
    ["go", `var token string = "t0k3n-value-9"`, "token"],
    ["java", `private static final String PASSWORD = "Summer2024!";`, "PASSWORD"],
    ["csharp", `string connectionSecret = @"xyz-987-abc";`, "connectionSecret"],
    ["php", `$db_pass = 'rootroot1';`, "db_pass"],
    ["php", `$config = ['password' => 'rootroot1'];`, "password"],
    ["ruby", `client = Client.new(api_key: "rk_live_12345678")`, "api_key"],
    ["rust", `let secret_key: &str = "0123456789abcdef";`, "secret_key"],
    ["shell", `export GITHUB_TOKEN="ghx_fake_but_long_enough"`, "GITHUB_TOKEN"],
    ["yaml", `password: "Pa55word!"`, "password"],
    ["javascript", `function login(user, pwd = "letmein99") {}`, "pwd"],
    ["kotlin", `val signingKey = "k-4491-zz"`, "signingKey"],
    ["javascript", `headers.Authorization = "Bearer eyJhbGciOi";`, "Authorization"],
    ["python", `SECRET_KEY = 'django-insecure-7x'  # TODO rotate`, "SECRET_KEY"],
  ])("flags %s: %s", (language, text, name) => {
    expect(names(language, text)).toEqual([name]);
  });

  it.each([
    ["an empty string", `password = ""`],
    ["spaces only", `password = "   "`],
    ["a <placeholder>", `const apiKey = "<your-key>";`],
    ["changeme", `password = "changeme"`],
    ["xxx", `API_KEY = "xxx"`],
    ["a masked value", `token = "********"`],
    ["an interpolated template literal", "const token = `$" + "{TOKEN}`;"],
    ["a dollar-brace reference", 'SECRET = "$' + '{SECRET}"'],
    ["TODO", `secret = "TODO"`],
    ["your_… here", `api_key = "your_api_key_here"`],
    ["a {{template}}", `password: "{{ vault_password }}"`],
    ["process.env", `const token = process.env.GITHUB_TOKEN;`],
    ["process.env with a name in quotes", `const token = process.env["GITHUB_TOKEN"];`],
    ["os.environ", `password = os.environ["DB_PASSWORD"]`],
    ["os.getenv", `password = os.getenv("DB_PASSWORD")`],
    ["os.getenv with a default", `password = os.getenv("DB_PASSWORD", "")`],
    ["System.getenv", `String password = System.getenv("DB_PASSWORD");`],
    ["token_type", `token_type = "bearer-custom"`],
    ["key_id", `key_id = "AKIDEXAMPLE1234"`],
    ["password_field", `password_field = "user_pw"`],
    ["passwordLabel", `const passwordLabel = "Your secret";`],
    ["token_url", `TOKEN_URL = "https://auth.example.com/token"`],
    ["a public key", `const publicKey = "pk_test_123456789";`],
    ["a primary key", `primary_key = "user_id"`],
    ["is_secret", `is_secret = "yes-it-is"`],
    ["a comparison", `if password == "hunter22":`],
    ["a strict comparison", `if (token === "abc123def") {}`],
    ["a concatenation", `const password = "abc" + suffix;`],
    ["an f-string", `token = f"{prefix}-abc123"`],
    ["a field name equal to its name", `API_KEY = "api-key"`],
    ["a header name", `const authHeader = "X-Api-Key";`],
    ["a prompt in prose", `password = "Enter your password please:"`],
    ["a path", `pwd = "/home/user"`],
    ["a URL without credentials", `auth = "https://login.example.com"`],
    ["an argument", `login("password", "hunter22")`],
    ["a commented-out line", `# password = "hunter22"`],
    ["a JS line comment", `// const token = "abc123def456";`],
    ["a CSV file", `password,hunter22`],
    ["a type word", `type: "password"`],
    ["a scheme", `auth: "oauth2"`],
  ])("does not flag %s", (_what, text) => {
    expect(names(text.includes(",hunter") ? "csv" : "text", text)).toEqual([]);
  });

  it("reads names by their words, not their substrings", () => {
    for (const name of [
      "password",
      "dbPass",
      "APIKEY",
      "SECRET_KEY_BASE",
      "privateKey",
      "x-auth-token",
      "accessKey",
    ]) {
      expect(isCredentialName(name), name).toBe(true);
    }
    for (const name of [
      "author",
      "keyboard",
      "monkey",
      "tokenizer",
      "compass",
      "cacheKey",
      "sort_key",
      "key",
      "token_type",
      "aws_access_key_id",
      "max_tokens",
      "has_password",
      "passwordMinLength",
    ]) {
      expect(isCredentialName(name), name).toBe(false);
    }
  });

  it("shows a value masked: at most a quarter of it and never more than four characters", () => {
    expect(maskCredential(AWS_EXAMPLE)).toBe("wJal… (40 characters)");
    expect(maskCredential("hunter2")).toBe("h… (7 characters)");
    expect(maskCredential("abc")).toBe("… (3 characters)");
    const [finding] = credentialFindings(
      findCredentials(file("javascript", `const AWS_SECRET_ACCESS_KEY = "${AWS_EXAMPLE}";`)),
    );
    expect(finding).toMatchObject({
      rule: CREDENTIAL_RULE,
      severity: "high",
      tool: "credential-check",
      line: 1,
    });
    expect(JSON.stringify(finding)).not.toContain(AWS_EXAMPLE);
    expect(finding!.message).toContain("wJal…");
  });

  it("joins the review: sorted in, not twice where secretlint reported, every value to be masked", () => {
    const result: CodeReviewResult = {
      files: [{ name: "app.js", language: "javascript", lines: 3, linted: true }],
      findings: [
        {
          file: "app.js",
          line: 3,
          column: 1,
          rule: "no-eval",
          severity: "high",
          message: "eval",
          fix: "",
          tool: "eslint",
        },
        {
          file: "app.js",
          line: 2,
          column: 7,
          rule: "secret/aws",
          severity: "high",
          message: "AWS",
          fix: "",
          tool: "secretlint",
        },
      ],
      secrets: ["AKIAIOSFODNN7EXAMPLE"],
      notes: [],
    };
    const hits = findCredentials({
      ...file(
        "javascript",
        `const password = "hunter2";\nconst accessKey = "AKIAIOSFODNN7EXAMPLE";\neval(x);`,
      ),
      name: "app.js",
    });
    expect(hits.map((h) => h.line)).toEqual([1, 2]);
    addCredentialFindings(result, hits);
    expect(result.findings.map((f) => `${f.line}:${f.tool}`)).toEqual([
      "1:credential-check",
      "2:secretlint",
      "3:eslint",
    ]);
    // A short value is masked by its quoted literal, so the word alone is left alone.
    expect(result.secrets).toEqual(["AKIAIOSFODNN7EXAMPLE", '"hunter2"']);
  });
});

describe("the credential rule on hostile text", () => {
  const pieces = [
    ...PIECES,
    "password",
    "token",
    "=",
    ":",
    "'",
    "=>",
    "$",
    "f",
    "#",
    "//",
    "\\",
    "api_key",
  ];
  /** Characters looked at per character of input, whatever the text. */
  const STEPS_PER_CHAR = 8;

  it("looks at each character a bounded number of times (fast-check)", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...pieces), maxLength: 400 }), (text) => {
        const work: Work = { steps: 0 };
        findCredentials(file("javascript", text), work);
        expect(work.steps).toBeLessThanOrEqual(STEPS_PER_CHAR * text.length + 10);
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ["unclosed quotes and escapes", '"\\"'],
    ["assignments without a value", "password = "],
    ["quoted keys without a value", '"token": '],
    ["literals after literals", `"a" "b" `],
    ["many assignments on one line", `token = "abcdefgh", `],
    ["deep type chains", "password: str str str "],
    ["subscripts", `x["api_key"]`],
  ])("stays linear on %s", (_what, unit) => {
    const work: Work = { steps: 0 };
    const text = unit.repeat(Math.ceil(50_000 / unit.length));
    findCredentials(file("python", text), work);
    expect(work.steps).toBeLessThanOrEqual(STEPS_PER_CHAR * text.length);
  });
});
