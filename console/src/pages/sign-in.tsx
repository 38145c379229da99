import { useState } from 'preact/hooks';

export function SignIn(props: {
  onSignIn: (token: string) => Promise<string | null>;
  notice?: string | undefined;
}) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main class="sign-in" id="main" tabIndex={-1}>
      <h1>leadhub console</h1>
      <p>
        Paste an API token (<code>api.tokens</code> in the hub's configuration). It stays in this tab only and
        is forgotten when you sign out or close the tab.
      </p>
      {props.notice !== undefined && (
        <p class="notice" role="status">
          {props.notice}
        </p>
      )}
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (token.trim() === '') {
            setProblem('Paste a token first.');
            return;
          }
          setBusy(true);
          const why = await props.onSignIn(token.trim()).catch(() => 'The hub could not be reached.');
          setBusy(false);
          setProblem(why);
        }}
      >
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellcheck={false}
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          aria-describedby={problem !== null ? 'token-problem' : undefined}
          aria-invalid={problem !== null}
        />
        {problem !== null && (
          <p id="token-problem" class="error" role="alert">
            {problem}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
