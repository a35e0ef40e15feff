// Demo: the application's parts in one place — the panel facades, the GUI-delay probe and the
// QML engine showing them — so that main() and the tests build exactly the same thing.
// GUI thread only.
#pragma once

#include "fractal.h"
#include "guiprobe.h"
#include "pipeline.h"
#include "sharedmap.h"
#include "swarm.h"
#include "worker.h"

#include <QQmlApplicationEngine>

class QQuickWindow;

class Demo
{
public:
    Demo();
    ~Demo();
    Demo(const Demo &) = delete;
    Demo &operator=(const Demo &) = delete;

    //! Loads the QML window; false (with the engine's warnings printed) if that failed.
    bool load();
    QQuickWindow *window() const;
    //! The QML object with this objectName (a panel), or nullptr.
    QObject *findItem(const QString &objectName) const;

    GuiProbe probe;
    SharedMapFacade map;
    FractalFacade fractal;
    SwarmFacade swarm;
    WorkerFacade worker;
    PipelineFacade pipeline;
    QQmlApplicationEngine engine;
};
