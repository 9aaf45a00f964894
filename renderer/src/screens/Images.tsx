import { useEffect, useState } from 'react';
import { ImageName, type ImageDetail, type ImageInfo } from '../../../main/api/contract.js';
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
  const { list, error, loading, load, selected, select, tasks, actionError, detail, detailError } = useImages();
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
                    <tr key={i.name} className={`clickable${selected === i.name ? ' row-selected' : ''}`} onClick={() => void select(selected === i.name ? undefined : i.name)} data-image={i.name}>
                      <td><strong>{i.name}</strong>{i.guest && <span className="muted small"> · {i.guest}</span>}{i.problem && <> <Badge state="bad">unreadable</Badge></>}</td>
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
          {shown && <ImageDetailPanel image={shown} detail={detail?.name === shown.name ? detail : undefined} error={detailError} />}
        </div>
        <aside className="images-side">
          <BuildCard />
          <ImportCard />
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

function ImageDetailPanel({ image, detail, error }: { image: ImageInfo; detail?: ImageDetail; error?: { message: string } }) {
  return (
    <section className="detail image-detail" aria-label={`image ${image.name}`}>
      <div className="detail-head"><h2>{image.name}</h2><Badge state="info">{image.format}</Badge>{image.guest && <Badge state="muted">{image.guest}</Badge>}</div>
      {image.problem && <div className="inline-error" role="alert"><strong>{image.problem}</strong></div>}
      <dl className="facts">
        <dt>Path</dt><dd className="mono">{image.path}</dd>
        <dt>Boots</dt><dd>{image.kernel ? `with its own kernel and initrd${image.kernelBytes ? ` (${fmtBytes(image.kernelBytes)} + ${fmtBytes(image.initrdBytes ?? 0)})` : ''}` : 'from its disk'}</dd>
        {detail?.cmdline && <><dt>Kernel line</dt><dd className="mono">{detail.cmdline}</dd></>}
        <dt>Template</dt><dd>{detail ? `${fmtBytes(detail.template.actualBytes)} on disk of ${fmtBytes(detail.template.virtualBytes)} virtual (${detail.template.format})` : `${fmtBytes(image.allocatedBytes)} allocated of ${fmtBytes(image.virtualBytes)} virtual`}</dd>
        {image.createdAt && <><dt>Created</dt><dd>{new Date(image.createdAt).toLocaleString()}</dd></>}
        <dt>Used by</dt>
        <dd data-testid="image-used-by">{error ? <span className="small">could not ask: {error.message}</span>
          : !detail ? <span className="muted">…</span>
          : detail.usedBy.length === 0 ? <span className="muted">no volume: it can be replaced freely</span>
          : <ul className="used-by">{detail.usedBy.map((u) => <li key={u} className="mono small">{u}</li>)}</ul>}</dd>
      </dl>
    </section>
  );
}

function ImportCard() {
  const importFile = useImages((s) => s.importFile);
  const [file, setFile] = useState('');
  const [name, setName] = useState('');
  const badName = imageNameError(name);
  const badFile = file !== '' && !file.startsWith('/') ? 'an absolute path on this workstation' : undefined;
  return (
    <section className="card" aria-labelledby="import-h">
      <h2 id="import-h">Import a disk image</h2>
      <p className="muted small">A standalone qcow2 file on this workstation, such as a cloud image that reads a NoCloud seed, becomes a template on shared storage.</p>
      <Field id="import-file" label="File" error={badFile}>
        <input id="import-file" value={file} onChange={(e) => setFile(e.target.value)} placeholder="/var/tmp/debian-12-genericcloud-amd64.qcow2" autoComplete="off" spellCheck={false} />
      </Field>
      <Field id="import-name" label="Name" error={badName}>
        <input id="import-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="debian-cloud" autoComplete="off" />
      </Field>
      <div className="form-actions">
        <button className="btn" id="image-import" disabled={!file || !name || !!badName || !!badFile} onClick={() => void importFile(file, name)}>Import</button>
      </div>
    </section>
  );
}
