// Node resolves the page's vendored imports (./vendor/*.js, copied from node_modules by
// scripts/build-web) to the npm packages they are copied from, so web/ modules run as is.
const VENDOR = { 'fflate.js': 'fflate' };
export async function resolve(specifier, context, next) {
  const m = /(?:^|\/)vendor\/([^/]+)$/.exec(specifier);
  if (m && VENDOR[m[1]] && context.parentURL?.includes('/web/')) return next(VENDOR[m[1]], { ...context, parentURL: import.meta.url });
  return next(specifier, context);
}
