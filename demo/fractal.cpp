#include "fractal.h"

#include <QPainter>

#include <algorithm>
#include <array>
#include <cmath>

using namespace Qt::StringLiterals;

namespace {

QRgb paletteColor(double t)
{
    // The classic smooth Mandelbrot gradient: deep blue, white, orange, black.
    struct Stop
    {
        double at;
        int r, g, b;
    };
    static constexpr std::array<Stop, 6> stops{ { { 0.0, 0, 7, 100 },
                                                  { 0.16, 32, 107, 203 },
                                                  { 0.42, 237, 255, 255 },
                                                  { 0.6425, 255, 170, 0 },
                                                  { 0.8575, 0, 2, 0 },
                                                  { 1.0, 0, 7, 100 } } };
    t -= std::floor(t);
    std::size_t i = 1;
    while (i + 1 < stops.size() && stops[i].at < t)
        ++i;
    const Stop &a = stops[i - 1];
    const Stop &b = stops[i];
    const double f = (t - a.at) / (b.at - a.at);
    return qRgb(int(a.r + f * (b.r - a.r)), int(a.g + f * (b.g - a.g)), int(a.b + f * (b.b - a.b)));
}

QImage renderTileImage(const FractalViewport &view, int column, int row, int size, int width,
                       int height)
{
    QImage image(size, size, QImage::Format_RGB32);
    for (int y = 0; y < size; ++y) {
        auto *line = reinterpret_cast<QRgb *>(image.scanLine(y));
        const double ci = view.centerY - (row * size + y - height / 2.0) * view.unitsPerPixel;
        for (int x = 0; x < size; ++x) {
            const double cr = view.centerX + (column * size + x - width / 2.0) * view.unitsPerPixel;
            double zr = 0, zi = 0;
            int n = 0;
            while (n < view.maxIterations && zr * zr + zi * zi <= 256.0) {
                const double t = zr * zr - zi * zi + cr;
                zi = 2 * zr * zi + ci;
                zr = t;
                ++n;
            }
            if (n == view.maxIterations) {
                line[x] = qRgb(0, 0, 0);
            } else {
                const double smooth = n + 1 - std::log2(std::log2(zr * zr + zi * zi) / 2);
                line[x] = paletteColor(smooth / 48.0);
            }
        }
    }
    return image;
}

} // namespace

FractalFacade::FractalFacade(QObject *parent)
    : QObject(parent),
      m_tiles(std::size_t(tileCount())),
      m_tileGeneration(std::size_t(tileCount()), -1),
      // Deleted on the GUI thread (deleteLater) by whichever holder lets go last.
      m_inbox(new QObject, [](QObject *inbox) { inbox->deleteLater(); })
{
    m_workers.reserve(std::size_t(tileCount()));
    for (int i = 0; i < tileCount(); ++i) {
        m_workers.emplace_back(TileWorker{ i % columns(), i / columns() },
                               QtActors::Options{ .name = u"tile-%1"_s.arg(i) });
    }
    resetView();
}

double FractalFacade::zoom() const
{
    return FractalViewport::fullWidth / (columns() * tileSize()) / m_view.unitsPerPixel;
}

void FractalFacade::setView(double x, double y, double zoom)
{
    if (!(zoom > 0))
        return;
    m_view.centerX = x;
    m_view.centerY = y;
    m_view.unitsPerPixel =
            std::clamp(FractalViewport::fullWidth / (columns() * tileSize()) / zoom, 1e-15, 0.02);
    render();
}

void FractalFacade::resetView()
{
    setView(FractalViewport{}.centerX, FractalViewport{}.centerY, 1);
}

void FractalFacade::zoomAt(double fx, double fy, double factor)
{
    if (!(factor > 0))
        return;
    const int width = columns() * tileSize();
    const int height = rows() * tileSize();
    const double px = (fx - 0.5) * width;
    const double py = (fy - 0.5) * height;
    const double before = m_view.unitsPerPixel;
    m_view.unitsPerPixel = std::clamp(before / factor, 1e-15, 0.02);
    m_view.centerX += px * (before - m_view.unitsPerPixel);
    m_view.centerY -= py * (before - m_view.unitsPerPixel);
    render();
}

void FractalFacade::pan(double dx, double dy)
{
    m_view.centerX -= dx * columns() * tileSize() * m_view.unitsPerPixel;
    m_view.centerY += dy * rows() * tileSize() * m_view.unitsPerPixel;
    render();
}

void FractalFacade::render()
{
    m_view.maxIterations = 256 + int(96 * std::max(0.0, std::log2(zoom())));
    const int generation = ++m_generation;
    m_tilesDone = 0;
    ++m_renders;
    m_renderClock.start();
    const int size = tileSize();
    const int width = columns() * size;
    const int height = rows() * size;
    QPointer<FractalFacade> self(this);
    for (int i = 0; i < tileCount(); ++i) {
        // One key per tile actor ("the view"): a render still waiting is superseded by this one.
        m_workers[std::size_t(i)].castLatest(
                0, [view = m_view, generation, size, width, height, index = i, self,
                    inbox = m_inbox, run = m_jobsRun](TileWorker &w) {
                    QImage image = renderTileImage(view, w.column, w.row, size, width, height);
                    run->fetch_add(1, std::memory_order_relaxed);
                    // The lambda runs on the GUI thread, where self may be read.
                    QMetaObject::invokeMethod(
                            inbox.get(),
                            [self, index, generation, image = std::move(image), inbox] {
                                if (self)
                                    self->showTile(index, generation, image);
                            },
                            Qt::QueuedConnection);
                });
        ++m_jobsSent;
    }
    Q_EMIT progressChanged();
}

QCoro::Task<> FractalFacade::flush()
{
    // A call queues behind the casts sent before it: when each answers, its tile's renders have
    // run or been superseded.
    std::vector<QtActors::Call<void>> calls;
    calls.reserve(m_workers.size());
    for (const auto &worker : m_workers)
        calls.push_back(worker.call([](TileWorker &) {}));
    for (auto &call : calls)
        co_await std::move(call);
}

void FractalFacade::showTile(int index, int generation, const QImage &image)
{
    if (image.isNull() || generation != m_generation)
        return; // an older view, already running when a newer one came
    m_tiles[std::size_t(index)] = image;
    m_tileGeneration[std::size_t(index)] = generation;
    ++m_tilesDone;
    ++m_tilesRendered;
    if (isComplete())
        m_lastRenderMs = double(m_renderClock.nsecsElapsed()) / 1e6;
    Q_EMIT tileReady(index);
    Q_EMIT progressChanged();
}

FractalView::FractalView(QQuickItem *parent) : QQuickPaintedItem(parent)
{
    setFillColor(QColor(0x10, 0x14, 0x1c));
}

void FractalView::setFractal(FractalFacade *fractal)
{
    if (m_fractal == fractal)
        return;
    disconnect(m_tileConnection);
    m_fractal = fractal;
    if (fractal) {
        m_tileConnection =
                connect(fractal, &FractalFacade::progressChanged, this, [this] { update(); });
    }
    update();
    Q_EMIT fractalChanged();
}

QRectF FractalView::imageRect() const
{
    if (!m_fractal)
        return {};
    const QSizeF image(m_fractal->columns() * m_fractal->tileSize(),
                       m_fractal->rows() * m_fractal->tileSize());
    const QSizeF fitted = image.scaled(size(), Qt::KeepAspectRatio);
    return QRectF(QPointF((width() - fitted.width()) / 2, (height() - fitted.height()) / 2),
                  fitted);
}

QPointF FractalView::toImageFraction(double x, double y) const
{
    const QRectF r = imageRect();
    if (r.isEmpty())
        return { 0.5, 0.5 };
    return { (x - r.x()) / r.width(), (y - r.y()) / r.height() };
}

void FractalView::paint(QPainter *painter)
{
    if (!m_fractal)
        return;
    const QRectF r = imageRect();
    const double scale = r.width() / (m_fractal->columns() * m_fractal->tileSize());
    const double side = m_fractal->tileSize() * scale;
    painter->setRenderHint(QPainter::SmoothPixmapTransform);
    for (int i = 0; i < m_fractal->tileCount(); ++i) {
        const QRectF target(r.x() + (i % m_fractal->columns()) * side,
                            r.y() + (i / m_fractal->columns()) * side, side, side);
        const QImage image = m_fractal->tile(i);
        if (!image.isNull())
            painter->drawImage(target, image);
        if (!m_fractal->isTileCurrent(i)) // still being rendered: veil it
            painter->fillRect(target, QColor(16, 20, 28, 150));
    }
}
