import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { installFakeDialog } from '../lib/fake-dialog';

// The edge of what a unit test can have: the Tauri bridge. The forms are real.
const api = vi.hoisted(() => {
  const ok = (data: unknown) => Promise.resolve({ status: 'ok', data });
  const err = (code: string, message: string) => Promise.resolve({ status: 'error', error: { code, message } });
  let progress: ((e: { payload: unknown }) => void) | null = null;
  return {
    ok,
    err,
    emitProgress: (p: unknown) => progress?.({ payload: p }),
    commands: {
      chooseServer: vi.fn<(url: string) => Promise<unknown>>(),
      signup: vi.fn(),
      login: vi.fn(),
      blockedUsers: vi.fn(() => ok([])),
      updateCheck: vi.fn<() => Promise<unknown>>(),
      updateInstall: vi.fn<() => Promise<unknown>>(),
      updateRestart: vi.fn(() => Promise.resolve(null)),
    },
    events: {
      natterEvent: { listen: async () => () => {} },
      updateProgress: {
        listen: async (f: (e: { payload: unknown }) => void) => {
          progress = f;
          return () => (progress = null);
        },
      },
    },
  };
});

vi.mock('../lib/bindings', () => ({ commands: api.commands, events: api.events }));

const { default: Auth } = await import('./Auth.svelte');
const { default: Settings } = await import('./Settings.svelte');
const { ChatState } = await import('../lib/state.svelte');
installFakeDialog();

afterEach(() => {
  cleanup();
  vi.clearAllMocks();
});

describe('first start', () => {
  it('asks for the server first, shows why an address is refused, then signs up there', async () => {
    api.commands.chooseServer.mockReturnValueOnce(api.err('network', 'no Natter server answers at http://10.0.0.1:7878'));
    api.commands.chooseServer.mockReturnValueOnce(api.ok(null));
    render(Auth, { serverUrl: 'http://127.0.0.1:7878', serverChosen: false, onSignedIn: () => {} });

    expect(screen.queryByTestId('signup-submit')).toBeNull();
    const address = screen.getByTestId('first-server-url') as HTMLInputElement;
    expect(address.value).toBe('http://127.0.0.1:7878');
    await fireEvent.input(address, { target: { value: 'http://10.0.0.1:7878' } });
    await fireEvent.click(screen.getByTestId('choose-server-submit'));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('no Natter server answers at http://10.0.0.1:7878');
    expect(screen.queryByTestId('signup-submit')).toBeNull();

    await fireEvent.input(address, { target: { value: 'https://natter.example.org' } });
    await fireEvent.click(screen.getByTestId('choose-server-submit'));
    await screen.findByTestId('signup-submit');
    expect(api.commands.chooseServer).toHaveBeenLastCalledWith('https://natter.example.org');
    // The sign-up goes to the chosen server.
    await fireEvent.click(screen.getByTestId('show-server'));
    expect((screen.getByTestId('server-url') as HTMLInputElement).value).toBe('https://natter.example.org');
  });

  it('goes straight to the sign-in form when the server was chosen before', () => {
    render(Auth, { serverUrl: 'https://natter.example.org', serverChosen: true, onSignedIn: () => {} });
    expect(screen.queryByTestId('first-server-url')).toBeNull();
    expect(screen.getByTestId('signup-submit')).toBeTruthy();
  });
});

describe('updates in settings', () => {
  const chat = () => new ChatState();

  it('shows nothing about updates in a build without an update address', async () => {
    api.commands.updateCheck.mockReturnValue(api.ok({ state: 'not_configured' }));
    render(Settings, { chat: chat(), onClose: () => {} });
    await vi.waitFor(() => expect(api.commands.updateCheck).toHaveBeenCalled());
    await new Promise((r) => setTimeout(r, 50));
    expect(screen.queryByTestId('update-status')).toBeNull();
    expect(screen.queryByTestId('update-check')).toBeNull();
  });

  it('offers a newer version, shows the download and a refused signature, and never renders the notes as HTML', async () => {
    api.commands.updateCheck.mockReturnValue(
      api.ok({ state: 'available', current: '0.1.0', version: '0.1.1', notes: 'Faster <img src=x onerror=alert(1)>' }),
    );
    let finish: (v: unknown) => void = () => {};
    api.commands.updateInstall.mockReturnValueOnce(new Promise((r) => (finish = r)));
    render(Settings, { chat: chat(), onClose: () => {} });
    const status = await screen.findByTestId('update-status');
    await vi.waitFor(() => expect(status.textContent).toContain('Natter 0.1.1 is available (you have 0.1.0)'));
    const notes = screen.getByTestId('update-notes');
    expect(notes.textContent).toBe('Faster <img src=x onerror=alert(1)>');
    expect(notes.querySelector('img')).toBeNull();

    await fireEvent.click(screen.getByTestId('update-install'));
    api.emitProgress({ downloaded: 512 * 1024, total: 1024 * 1024 });
    await vi.waitFor(() => expect(status.textContent).toContain('(50 %)'));
    finish({ status: 'error', error: { code: 'internal', message: "the update's signature does not match this build's signing key" } });
    const alert = await screen.findByTestId('update-error');
    expect(alert.textContent).toContain('signature does not match');
    expect(screen.queryByTestId('update-restart')).toBeNull();
  });

  it('offers a restart once the update is installed', async () => {
    api.commands.updateCheck.mockReturnValue(api.ok({ state: 'available', current: '0.1.0', version: '0.1.1', notes: null }));
    api.commands.updateInstall.mockReturnValueOnce(api.ok(null));
    render(Settings, { chat: chat(), onClose: () => {} });
    await fireEvent.click(await screen.findByTestId('update-install'));
    await fireEvent.click(await screen.findByTestId('update-restart'));
    expect(api.commands.updateRestart).toHaveBeenCalled();
    expect(screen.getByTestId('update-status').textContent).toContain('0.1.1 is installed');
  });
});
