import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtActorsDemo

ApplicationWindow {
    id: window

    required property GuiProbe probe
    required property SharedMapFacade map
    required property FractalFacade fractal
    required property SwarmFacade swarm
    required property WorkerFacade worker
    required property PipelineFacade pipeline

    width: 1280
    height: 820
    visible: true
    title: qsTr("QtActors — actors behind a Qt Quick UI")
    color: "#12161d"

    palette.window: "#12161d"
    palette.windowText: "#e6edf3"
    palette.base: "#0c0f14"
    palette.text: "#e6edf3"
    palette.button: "#2b3445"
    palette.buttonText: "#e6edf3"
    palette.highlight: "#3d8bfd"
    palette.highlightedText: "#ffffff"
    palette.mid: "#3a4558"
    palette.dark: "#5c6b82"
    palette.light: "#3a4558"
    palette.placeholderText: "#6b778a"

    header: DelayStrip {
        probe: window.probe
    }

    GridLayout {
        anchors.fill: parent
        anchors.margins: 8
        columns: 2
        rowSpacing: 8
        columnSpacing: 8

        MapPanel {
            objectName: "mapPanel"
            map: window.map
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.preferredWidth: 1
            Layout.preferredHeight: 1
        }
        FractalPanel {
            objectName: "fractalPanel"
            fractal: window.fractal
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.preferredWidth: 1
            Layout.preferredHeight: 1
        }
        SwarmPanel {
            objectName: "swarmPanel"
            swarm: window.swarm
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.preferredWidth: 1
            Layout.preferredHeight: 1
        }
        WorkerPanel {
            objectName: "workerPanel"
            worker: window.worker
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.preferredWidth: 1
            Layout.preferredHeight: 1
        }
        PipelinePanel {
            objectName: "pipelinePanel"
            pipeline: window.pipeline
            Layout.columnSpan: 2
            Layout.fillWidth: true
            Layout.preferredHeight: 96
        }
    }
}
