// FractalFacade: a Mandelbrot image cut into tiles, one pool actor per tile. Each render sends every
// tile actor a castLatest() (S25) with the new view; the actor renders its tile and posts the image
// back to the GUI thread, where tiles show up as they arrive. While a person drags or zooms, renders
// come faster than the tiles are drawn: a tile's waiting render is superseded by the newer one, so
// each actor draws the newest view next instead of replaying every position the mouse went
// through. GUI thread only.
//
// FractalView: the QQuickPaintedItem that draws the facade's tiles.
#pragma once

#include <QtActors/QtActors>

#include <QElapsedTimer>
#include <QImage>
#include <QObject>
#include <QPointer>
#include <QQuickPaintedItem>
#include <QtQml/qqmlregistration.h>

#include <QCoroTask>

#include <atomic>
#include <memory>
#include <vector>

struct FractalViewport
{
    static constexpr double fullWidth = 4.4; // the whole set, in units of the complex plane

    double centerX = -0.75;
    double centerY = 0.0;
    double unitsPerPixel = 1;
    int maxIterations = 256;
};

//! A tile actor's State (at namespace scope, see PrimeCounter in worker.h).
struct TileWorker
{
    int column = 0;
    int row = 0;
};

class FractalFacade : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("Created by the demo in C++")
    Q_PROPERTY(int columns READ columns CONSTANT)
    Q_PROPERTY(int rows READ rows CONSTANT)
    Q_PROPERTY(int tileSize READ tileSize CONSTANT)
    Q_PROPERTY(int tileCount READ tileCount CONSTANT)
    Q_PROPERTY(int tilesDone READ tilesDone NOTIFY progressChanged)
    Q_PROPERTY(bool complete READ isComplete NOTIFY progressChanged)
    Q_PROPERTY(qint64 tilesRendered READ tilesRendered NOTIFY progressChanged)
    Q_PROPERTY(int renders READ renders NOTIFY progressChanged)
    Q_PROPERTY(double lastRenderMs READ lastRenderMs NOTIFY progressChanged)
    Q_PROPERTY(double zoom READ zoom NOTIFY progressChanged)
    Q_PROPERTY(qint64 tileJobsSent READ tileJobsSent NOTIFY progressChanged)
    Q_PROPERTY(qint64 tileJobsRun READ tileJobsRun NOTIFY progressChanged)

public:
    explicit FractalFacade(QObject *parent = nullptr);

    int columns() const { return 10; }
    int rows() const { return 5; }
    int tileSize() const { return 64; }
    int tileCount() const { return columns() * rows(); }
    int tilesDone() const { return m_tilesDone; }
    bool isComplete() const { return m_tilesDone == tileCount(); }
    qint64 tilesRendered() const { return m_tilesRendered; }
    int renders() const { return m_renders; }
    double lastRenderMs() const { return m_lastRenderMs; }
    double zoom() const;
    //! Tile renders sent (castLatest), and how many the tile actors ran: the others were
    //! superseded by a newer view before they started.
    qint64 tileJobsSent() const { return m_jobsSent; }
    qint64 tileJobsRun() const { return m_jobsRun->load(std::memory_order_relaxed); }
    //! The newest image of tile index (possibly from an older render while a new one runs).
    QImage tile(int index) const { return m_tiles.at(index); }
    //! True when tile index shows the current viewport.
    bool isTileCurrent(int index) const { return m_tileGeneration.at(index) == m_generation; }

    //! Renders the current viewport again.
    Q_INVOKABLE void render();
    //! Zooms by factor about the point at (fx, fy), fractions of the image's width and height.
    Q_INVOKABLE void zoomAt(double fx, double fy, double factor);
    //! Moves the view by (dx, dy), fractions of the image's width and height.
    Q_INVOKABLE void pan(double dx, double dy);
    //! Shows the point (x, y) of the complex plane in the middle, magnified zoom times.
    Q_INVOKABLE void setView(double x, double y, double zoom);
    //! Shows the whole set.
    Q_INVOKABLE void resetView();
    //! Done when every tile render sent so far has run or been superseded.
    QCoro::Task<> flush();

Q_SIGNALS:
    void tileReady(int index);
    void progressChanged();

private:
    void showTile(int index, int generation, const QImage &image);

    std::vector<QtActors::Actor<TileWorker>> m_workers;
    std::vector<QImage> m_tiles;
    std::vector<int> m_tileGeneration;
    //! Where the tile actors post their images: a GUI-thread object that each render in flight
    //! keeps alive, so a tile finishing after the facade is gone posts to something that exists.
    std::shared_ptr<QObject> m_inbox;
    std::shared_ptr<std::atomic<qint64>> m_jobsRun = std::make_shared<std::atomic<qint64>>(0);
    qint64 m_jobsSent = 0;
    FractalViewport m_view;
    QElapsedTimer m_renderClock;
    int m_generation = 0;
    int m_tilesDone = 0;
    int m_renders = 0;
    qint64 m_tilesRendered = 0;
    double m_lastRenderMs = 0;
};

class FractalView : public QQuickPaintedItem
{
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(FractalFacade *fractal READ fractal WRITE setFractal NOTIFY fractalChanged)

public:
    explicit FractalView(QQuickItem *parent = nullptr);

    FractalFacade *fractal() const { return m_fractal; }
    void setFractal(FractalFacade *fractal);
    void paint(QPainter *painter) override;

    //! Maps a point of this item to fractions of the fractal image (for zoomAt/pan).
    Q_INVOKABLE QPointF toImageFraction(double x, double y) const;

Q_SIGNALS:
    void fractalChanged();

private:
    QRectF imageRect() const;

    QPointer<FractalFacade> m_fractal;
    QMetaObject::Connection m_tileConnection;
};
