// An error shown beside the form or action it belongs to, announced to screen readers; nothing
// when there is no error.
export function ErrorText({ error }: { error: string | null | undefined }) {
  if (!error) return null;
  return (
    <p role="alert" className="error-text">
      {error}
    </p>
  );
}
