import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtActorsDemo

// The header: the GUI thread's timer delay, live, next to things that keep moving.
Rectangle {
    id: strip

    property GuiProbe probe

    implicitHeight: 48
    color: "#0c0f14"

    RowLayout {
        anchors.fill: parent
        anchors.leftMargin: 12
        anchors.rightMargin: 12
        spacing: 12

        Label {
            text: "QtActors"
            font.pixelSize: 20
            font.bold: true
            color: "#e6edf3"
        }
        Label {
            text: qsTr("every panel talks to actors; the GUI thread never waits")
            color: "#8b98a9"
        }
        Item {
            Layout.fillWidth: true
        }
        BusyIndicator {
            running: true
            implicitWidth: 36
            implicitHeight: 36
        }
        Rectangle {
            // keeps turning as long as the GUI thread is free
            width: 22
            height: 22
            radius: 4
            color: "#3d8bfd"
            RotationAnimation on rotation {
                from: 0
                to: 360
                duration: 1500
                loops: Animation.Infinite
            }
        }
        Label {
            objectName: "delayLabel"
            text: strip.probe
                  ? qsTr("GUI timer delay  now %1 ms · worst %2 ms")
                    .arg(strip.probe.currentDelayMs.toFixed(1))
                    .arg(strip.probe.worstDelayMs.toFixed(1))
                  : ""
            color: strip.probe && strip.probe.currentDelayMs > 16 ? "#ff7b72" : "#7ee787"
            font.family: "monospace"
        }
        Sparkline {
            id: delayChart
            implicitWidth: 160
            implicitHeight: 28
            lineColor: "#7ee787"
            floor: 16
        }
        Connections {
            target: strip.probe
            function onChanged() { delayChart.add(strip.probe.currentDelayMs) }
        }
    }
}
