// oktamirror: starts GraphiQL on its page, against the endpoint that served the page (the path
// of this page, so it also works behind a proxy that adds a prefix). A served file rather than
// an inline script, so the page's Content-Security-Policy can forbid inline scripts.
'use strict';
(function () {
  var container = document.getElementById('graphiql');
  var fetcher = GraphiQL.createFetcher({ url: window.location.pathname });
  ReactDOM.createRoot(container).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
    })
  );
})();
