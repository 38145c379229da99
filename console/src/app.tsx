import { useEffect, useMemo, useState } from 'preact/hooks';

import { type Client, makeClient, need } from './api/client';
import { ConnectorPage } from './pages/connector';
import { ConnectorsPage } from './pages/connectors';
import { DeliveriesPage } from './pages/deliveries';
import { LeadPage } from './pages/lead';
import { LeadsPage } from './pages/leads';
import { MeetingsPage } from './pages/meetings';
import { OverviewPage } from './pages/overview';
import { SignIn } from './pages/sign-in';
import { type Route, parseRoute } from './router';
import { type Session, clearToken, storeToken, storedToken } from './session';

const nav: { path: string; label: string; pages: string[] }[] = [
  { path: '/', label: 'Overview', pages: ['overview'] },
  { path: '/connectors', label: 'Connectors', pages: ['connectors', 'connector'] },
  { path: '/deliveries', label: 'Deliveries', pages: ['deliveries'] },
  { path: '/leads', label: 'Leads', pages: ['leads', 'lead'] },
  { path: '/meetings', label: 'Meetings', pages: ['meetings'] },
];

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}

export interface PageProps {
  client: Client;
  session: Session;
  route: Route;
}

export function App() {
  const route = useRoute();
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(() => storedToken(sessionStorage) !== null);
  const [notice, setNotice] = useState<string | undefined>(undefined);

  const signOut = (why?: string) => {
    clearToken(sessionStorage);
    setSession(null);
    setNotice(why);
  };

  const client = useMemo(
    () =>
      session === null
        ? null
        : makeClient({
            baseUrl: location.origin,
            token: session.token,
            onUnauthorized: () => signOut('The hub no longer accepts this token: sign in again.'),
          }),
    [session],
  );

  const signIn = async (token: string): Promise<string | null> => {
    const probe = makeClient({ baseUrl: location.origin, token });
    const { data, response } = await probe.GET('/v1/token');
    if (data === undefined) {
      return response.status === 401
        ? 'The hub does not know this token.'
        : `The hub answered ${response.status}; try again.`;
    }
    storeToken(sessionStorage, token);
    setSession({ token, name: data.name, scopes: data.scopes });
    setNotice(undefined);
    return null;
  };

  // A token kept from earlier in this tab: ask the hub what it may do now.
  useEffect(() => {
    const token = storedToken(sessionStorage);
    if (token === null) {
      return;
    }
    need(makeClient({ baseUrl: location.origin, token }).GET('/v1/token'))
      .then((info) => setSession({ token, name: info.name, scopes: info.scopes }))
      .catch(() => clearToken(sessionStorage))
      .finally(() => setChecking(false));
  }, []);

  useEffect(() => {
    const focus = document.getElementById('main');
    focus?.focus({ preventScroll: true });
  }, [route.page.name]);

  if (checking) {
    return <p class="muted page">Signing in…</p>;
  }
  if (session === null || client === null) {
    return <SignIn onSignIn={signIn} notice={notice} />;
  }
  const props: PageProps = { client, session, route };
  return (
    <div class="shell">
      <a
        class="skip"
        href="#main-content"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <span class="brand">leadhub</span>
        <nav aria-label="Sections">
          <ul>
            {nav.map((item) => (
              <li key={item.path}>
                <a
                  href={`#${item.path}`}
                  aria-current={item.pages.includes(route.page.name) ? 'page' : undefined}
                >
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span title={`scopes: ${session.scopes.join(', ')}`}>
            {session.name}
            {session.scopes.includes('admin') ? '' : ' (read-only)'}
          </span>
          <button type="button" class="link" onClick={() => signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1} class="page">
        <Page {...props} />
      </main>
    </div>
  );
}

function Page(props: PageProps) {
  const page = props.route.page;
  switch (page.name) {
    case 'overview':
      return <OverviewPage {...props} />;
    case 'connectors':
      return <ConnectorsPage {...props} />;
    case 'connector':
      return <ConnectorPage {...props} name={page.id} />;
    case 'deliveries':
      return <DeliveriesPage {...props} />;
    case 'leads':
      return <LeadsPage {...props} />;
    case 'lead':
      return <LeadPage {...props} id={page.id} />;
    case 'meetings':
      return <MeetingsPage {...props} />;
    case 'not_found':
      return (
        <section>
          <h1>Not found</h1>
          <p>
            There is no page at <code>{page.path}</code>. <a href="#/">Back to the overview</a>.
          </p>
        </section>
      );
  }
}
