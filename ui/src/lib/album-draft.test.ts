import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render } from '@testing-library/svelte';
import type { StagedMedia } from './bindings';
import { installFakeMedia } from './fake-media';
import type { Poster } from './poster';

// The Tauri bridge is the edge: staging answers with what each test puts in `staged`.
const api = vi.hoisted(() => {
  const ok = (data: unknown) => Promise.resolve({ status: 'ok', data });
  return {
    ok,
    commands: {
      mediaStage: vi.fn<(c: string, paths: string[], hd: boolean) => Promise<unknown>>(),
      mediaUnstage: vi.fn<(id: string) => Promise<unknown>>(() => ok(null)),
      sendAlbum: vi.fn<(c: string, items: unknown, caption: string, hd: boolean) => Promise<unknown>>((c) =>
        ok({ id: 'm1', conversation_id: c, media: [] }),
      ),
    },
  };
});
vi.mock('./bindings', () => ({
  commands: api.commands,
  events: { natterEvent: { listen: async () => () => {} } },
}));

const { AlbumDraft } = await import('./album-draft.svelte');
const { default: AlbumTray } = await import('../components/AlbumTray.svelte');
const media = installFakeMedia();

function video(id: string, extra: Partial<StagedMedia> = {}): StagedMedia {
  return {
    id,
    name: `${id}.mov`,
    kind: 'video',
    width: 1920,
    height: 1080,
    duration_ms: 5000,
    size: 1000,
    blurhash: 'L00000fQfQfQfQfQfQfQfQfQfQfQ',
    placeholder: true,
    explicit: false,
    ...extra,
  };
}

function stages(...items: StagedMedia[]) {
  api.commands.mediaStage.mockImplementationOnce(() => api.ok(items.map((item) => ({ name: item.name, item, error: null }))));
}

/** A poster maker whose answers the test gives, when it wants. */
function posters() {
  const asked: StagedMedia[] = [];
  const answers: Array<(p: Poster | null) => void> = [];
  const make = vi.fn((item: StagedMedia) => {
    asked.push(item);
    return new Promise<Poster | null>((resolve) => answers.push(resolve));
  });
  return { make, asked, answer: (i: number, p: Poster | null) => answers[i](p) };
}

const frame = new Blob(['jpeg'], { type: 'image/jpeg' });
const settle = () => new Promise((r) => setTimeout(r, 0));

afterEach(() => {
  cleanup();
  vi.clearAllMocks();
});

describe('a video the core could not decode', () => {
  it('gets its poster from the web view: the tile shows the frame, the blurhash follows', async () => {
    const p = posters();
    const album = new AlbumDraft('c', p.make);
    stages(video('v1'), video('v2', { placeholder: false }));
    await album.addPaths(['/a/v1.mov', '/a/v2.mov']);

    // Only the placeholder asks.
    expect(p.asked.map((s) => s.id)).toEqual(['v1']);
    const r = render(AlbumTray, { album, onEdit: () => {} });
    const tile = () => r.getAllByTestId('tray-item')[0];
    expect(tile().dataset.placeholder).toBe('true');
    expect(tile().querySelector('video')?.getAttribute('poster')).toBeNull();

    const updated = video('v1', { placeholder: false, blurhash: 'LEHV6nWB2yk8pyo0adR*.7kCMdnj' });
    p.answer(0, { staged: updated, frame });
    await settle();

    expect(album.items[0].staged).toEqual(updated);
    expect(media.blobs.at(-1)).toBe(frame);
    expect(album.items[0].poster).toBe(`blob:fake/${media.blobs.length}`);
    await settle();
    expect(tile().dataset.placeholder).toBeUndefined();
    expect(tile().querySelector('video')?.getAttribute('poster')).toBe(album.items[0].poster);
  });

  it('keeps its placeholder when no poster comes (the platform cannot decode it, a wrong shape, a timeout)', async () => {
    const p = posters();
    const album = new AlbumDraft('c', p.make);
    const v = video('v1');
    stages(v);
    await album.addPaths(['/a/v1.mov']);
    p.answer(0, null);
    await settle();

    expect(album.items[0].staged).toEqual(v);
    expect(album.items[0].poster).toBeNull();
    // It goes out all the same, with the placeholder.
    expect(await album.send()).toMatchObject({ id: 'm1' });
    expect(api.commands.sendAlbum).toHaveBeenCalledWith('c', [{ staged_id: 'v1', edits: expect.anything(), video: null }], '', false);
  });

  it('never holds back sending', async () => {
    const p = posters();
    const album = new AlbumDraft('c', p.make);
    stages(video('v1'));
    await album.addPaths(['/a/v1.mov']);
    // The poster is still being made.
    expect(album.pending).toBe(false);
    expect(await album.send()).toMatchObject({ id: 'm1' });
    expect(album.items).toEqual([]);

    // A poster that comes after the album went out has nothing to show in.
    const blobs = media.blobs.length;
    p.answer(0, { staged: video('v1', { placeholder: false }), frame });
    await settle();
    expect(album.items).toEqual([]);
    expect(media.blobs.length).toBe(blobs);
  });

  it('is not brought back by a poster that comes after it was removed', async () => {
    const p = posters();
    const album = new AlbumDraft('c', p.make);
    stages(video('v1'));
    await album.addPaths(['/a/v1.mov']);
    album.remove('v1');
    p.answer(0, { staged: video('v1', { placeholder: false }), frame });
    await settle();
    expect(album.items).toEqual([]);
    expect(api.commands.mediaUnstage).toHaveBeenCalledWith('v1');
  });
});
