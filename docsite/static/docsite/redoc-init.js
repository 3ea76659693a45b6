// Start ReDoc with a theme whose response colours reach WCAG AA contrast (the stock
// green and red sit at about 4.4:1 on their tinted backgrounds). A file, not an inline
// script, so the Content-Security-Policy needs no exception.
(function () {
  var host = document.getElementById("redoc");
  window.Redoc.init(host.dataset.specUrl, {
    theme: {
      colors: {
        success: { main: "#166534" },
        error: { main: "#b42323" },
      },
      typography: { code: { color: "#a31515" } },
    },
  }, host);
})();
