import { useEffect, useState } from 'react';
import { ImageName, type ImageInfo } from '../../../main/api/contract.js';
import { useImages, IMAGE_KINDS, type ImageKind } from '../stores/images.js';
import { fmtBytes } from '../stores/volumes.js';
import { Badge, Empty, ErrorState, Field, InlineError, Loading } from '../components/common.js';
import { TaskProgress } from '../components/TaskProgress.js';

/** The contract's own rule for an image name, so the form and the service never disagree. */
export function imageNameError(name: string): string | undefined {
  if (name === '') return undefined;
  const r = ImageName.safeParse(name);
  return r.success ? undefined : r.error.issues[0]?.message;
}

export function ImagesScreen() {
  const { list, error, loading, load, selected, select, tasks, actionError } = useImages();
  useEffect(() => { void load(); }, [load]);
  const shown = list?.find((i) => i.name === selected);
  return (
    <div className="screen">
      <header className="screen-head row-between">
        <div>
          <h1>Images</h1>
          <p className="lead">The OS images on shared storage that virtual clusters' disks are cloned from (read-only templates).</p>
        </div>
        <div className="toolbar"><button className="btn" onClick={() => void load()} disabled={loading}>Refresh</button></div>
      </header>
      <div className="split images-split">
        <div className="images-main">
          {error && !list ? <ErrorState error={error} what="images" onRetry={load} />
            : !list ? <Loading what="images" />
            : list.length === 0 ? <Empty title="No images yet">Build one on the right: “Tiny” takes seconds.</Empty>
            : (
              <table className="table images-table">
                <thead><tr><th>Name</th><th>Format</th><th>Boots</th><th className="num">Allocated</th><th className="num">Virtual</th><th>Created</th></tr></thead>
                <tbody>
                  {list.map((i) => (
                    <tr key={i.name} className={`clickable${selected === i.name ? ' row-selected' : ''}`} onClick={() => select(selected === i.name ? undefined : i.name)} data-image={i.name}>
                      <td><strong>{i.name}</strong></td>
                      <td className="mono">{i.format}</td>
                      <td>{i.kernel ? 'own kernel' : 'from disk'}</td>
                      <td className="num mono">{fmtBytes(i.allocatedBytes)}</td>
                      <td className="num mono">{fmtBytes(i.virtualBytes)}</td>
                      <td className="muted">{i.createdAt ? new Date(i.createdAt).toLocaleString() : '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          {shown && <ImageDetail image={shown} />}
        </div>
        <aside className="images-side">
          <BuildCard />
          <InlineError error={actionError} />
          {tasks.length > 0 && (
            <section className="card" aria-label="image tasks">
              <h2>Progress</h2>
              {tasks.slice(0, 4).map((t) => (
                <div key={t.taskId} className="task-block"><div className="small"><strong>{t.what}</strong></div><TaskProgress taskId={t.taskId} label={t.what} /></div>
              ))}
            </section>
          )}
        </aside>
      </div>
    </div>
  );
}

function BuildCard() {
  const build = useImages((s) => s.build);
  const [kind, setKind] = useState<ImageKind>('tiny');
  const [name, setName] = useState('');
  const bad = imageNameError(name);
  return (
    <section className="card" aria-labelledby="build-h">
      <h2 id="build-h">Build an image</h2>
      <div className="kind-choice" role="radiogroup" aria-label="Image kind">
        {IMAGE_KINDS.map((k) => (
          <label key={k.kind} className={`kind${kind === k.kind ? ' active' : ''}`}>
            <input type="radio" name="image-kind" value={k.kind} checked={kind === k.kind} onChange={() => setKind(k.kind)} />
            <strong>{k.label}</strong> <span className="muted small">{k.about}</span>
          </label>
        ))}
      </div>
      <Field id="image-name" label="Name" hint={`empty: “${kind}”`} error={bad}>
        <input id="image-name" value={name} onChange={(e) => setName(e.target.value)} placeholder={kind} autoComplete="off" />
      </Field>
      <div className="form-actions">
        <button className="btn primary" id="image-build" disabled={!!bad} onClick={() => void build(kind, name || undefined)}>Build {name || kind}</button>
      </div>
    </section>
  );
}

function ImageDetail({ image }: { image: ImageInfo }) {
  return (
    <section className="detail image-detail" aria-label={`image ${image.name}`}>
      <div className="detail-head"><h2>{image.name}</h2><Badge state="info">{image.format}</Badge></div>
      <dl className="facts">
        <dt>Path</dt><dd className="mono">{image.path}</dd>
        <dt>Boots</dt><dd>{image.kernel ? 'with its own kernel and initrd (direct boot)' : 'from its disk'}</dd>
        <dt>Size</dt><dd>{fmtBytes(image.allocatedBytes)} allocated of {fmtBytes(image.virtualBytes)} virtual</dd>
        {image.createdAt && <><dt>Created</dt><dd>{new Date(image.createdAt).toLocaleString()}</dd></>}
      </dl>
    </section>
  );
}
